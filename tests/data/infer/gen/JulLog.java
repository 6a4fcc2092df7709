// Writes lines with the JDK's java.util.logging (SimpleFormatter, format given on the command line).
// Each message carries the UTC instant read just before it was logged.
import java.time.Instant;
import java.util.logging.Level;
import java.util.logging.Logger;

public class JulLog {
    static void charge(int invoice) throws Exception {
        try {
            throw new java.net.SocketTimeoutException("Read timed out");
        } catch (java.io.IOException e) {
            throw new IllegalStateException("payment gateway did not answer for invoice " + invoice, e);
        }
    }

    public static void main(String[] args) throws Exception {
        Logger log = Logger.getLogger("com.example.billing.InvoiceRun");
        log.info("utc=" + Instant.now() + " invoice run started");
        log.warning("utc=" + Instant.now() + " 2 invoices have no customer e-mail");
        try {
            charge(42);
        } catch (Exception e) {
            log.log(Level.SEVERE, "utc=" + Instant.now() + " invoice 42 failed", e);
        }
        Logger.getLogger("com.example.billing.Mailer").info("utc=" + Instant.now() + " sent 17 mails");
    }
}
