import java.net.InetSocketAddress;
import java.net.Socket;

/** The events every Java layout sample logs, through whichever logging API is given. */
final class Workload {
    interface Log {
        void log(String logger, String level, String message, Throwable error);
    }

    static void run(Log log) throws Exception {
        Runnable work = () -> {
            log.log("com.example.crm.web.TicketController", "INFO", "POST /api/tickets rid=7f3a9c21 customer=42", null);
            log.log("com.example.crm.billing.BillingClient", "DEBUG", "calling billing at 127.0.0.1:9 timeout=1000ms", null);
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", 9), 1000);
            } catch (Exception e) {
                log.log("com.example.crm.billing.BillingClient", "WARN", "billing call failed, retrying: " + e.getMessage(), null);
                log.log("com.example.crm.web.TicketController", "ERROR", "Request processing failed rid=7f3a9c21", e);
            }
        };
        Thread t = new Thread(work, "http-nio-8080-exec-1");
        t.start();
        t.join();
        Thread.currentThread().setName("main");
        log.log("com.example.crm.CrmApplication", "INFO", "Started CrmApplication in 3.2 seconds", null);
    }
}
