package com.example.crm;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import javax.servlet.ServletContainerInitializer;
import javax.servlet.ServletContext;

import org.apache.catalina.Context;
import org.apache.catalina.Wrapper;
import org.apache.catalina.connector.Connector;
import org.apache.catalina.startup.Tomcat;
import org.apache.tomcat.util.descriptor.web.ErrorPage;
import org.apache.tomcat.util.descriptor.web.FilterDef;
import org.apache.tomcat.util.descriptor.web.FilterMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.example.crm.db.ConnectionPool;
import com.example.crm.db.CustomerRepository;
import com.example.crm.db.JdbcSupport;
import com.example.crm.db.TicketRepository;
import com.example.crm.lab.LabControlServer;
import com.example.crm.security.TokenFilter;
import com.example.crm.web.CustomerController;
import com.example.crm.web.DispatcherServlet;
import com.example.crm.web.GlobalExceptionHandler;
import com.example.crm.web.Json;
import com.example.crm.web.PayloadAuditFilter;
import com.example.crm.web.RequestTracingFilter;
import com.example.crm.web.TicketController;

/**
 * Wires the embedded Tomcat, the connection pool and the web layer together.
 */
final class CrmServer {

    private static final Logger WEB_SERVER =
            LoggerFactory.getLogger("org.springframework.boot.web.embedded.tomcat.TomcatWebServer");
    private static final Logger GRACEFUL =
            LoggerFactory.getLogger("org.springframework.boot.web.embedded.tomcat.GracefulShutdown");
    private static final Logger WEB_CONTEXT =
            LoggerFactory.getLogger("org.springframework.boot.web.servlet.context.ServletWebServerApplicationContext");

    private final CrmSettings settings;
    private final CountDownLatch stopped = new CountDownLatch(1);
    private Tomcat tomcat;
    private ConnectionPool pool;
    private LabControlServer control;
    private volatile boolean shuttingDown;

    CrmServer(CrmSettings settings) {
        this.settings = settings;
    }

    void start() throws Exception {
        long contextStart = System.nanoTime();
        Path baseDir = Files.createTempDirectory("tomcat." + settings.port + ".");
        Path docBase = Files.createTempDirectory("tomcat-docbase." + settings.port + ".");

        tomcat = new Tomcat();
        tomcat.setBaseDir(baseDir.toString());
        Connector connector = new Connector("org.apache.coyote.http11.Http11NioProtocol");
        connector.setPort(settings.port);
        connector.setProperty("address", "127.0.0.1");
        connector.setThrowOnFailure(true);
        tomcat.getService().addConnector(connector);
        tomcat.setConnector(connector);
        tomcat.getHost().setAutoDeploy(false);
        if (settings.boot3()) {
            WEB_SERVER.info("Tomcat initialized with port {} (http)", settings.port);
        } else {
            WEB_SERVER.info("Tomcat initialized with port(s): {} (http)", settings.port);
        }

        JdbcSupport.useNestedMessages(!settings.boot3());
        pool = new ConnectionPool("HikariPool-1", settings.poolSize, settings.poolTimeoutMs);
        Context context = tomcat.addContext("", docBase.toString());
        ServletContainerInitializer initializer = (Set<Class<?>> classes, ServletContext servletContext) -> {
            servletContext.log("Initializing Spring embedded WebApplicationContext");
            long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - contextStart);
            WEB_CONTEXT.info("Root WebApplicationContext: initialization completed in {} ms", millis);
            pool.start();
        };
        context.addServletContainerInitializer(initializer, null);
        // Spring Boot registers a global error page that renders the JSON error body.
        ErrorPage errorPage = new ErrorPage();
        errorPage.setLocation("/error");
        context.addErrorPage(errorPage);

        Json json = new Json();
        DispatcherServlet servlet = new DispatcherServlet(settings, json,
                new CustomerController(json, new CustomerRepository(pool)),
                new TicketController(json, new TicketRepository(pool)),
                new GlobalExceptionHandler(json));
        addFilter(context, "payloadAuditFilter", new PayloadAuditFilter(json));
        addFilter(context, "tracingFilter", new RequestTracingFilter(settings));
        addFilter(context, "tokenAuthenticationFilter", new TokenFilter(json));
        Wrapper wrapper = Tomcat.addServlet(context, "dispatcherServlet", servlet);
        wrapper.setLoadOnStartup(-1);
        context.addServletMappingDecoded("/", "dispatcherServlet");

        tomcat.start();
        if (settings.boot3()) {
            WEB_SERVER.info("Tomcat started on port {} (http) with context path '/'", settings.port);
        } else {
            WEB_SERVER.info("Tomcat started on port(s): {} (http) with context path ''", settings.port);
        }
        if (settings.controlPort > 0) {
            control = new LabControlServer(settings.controlPort, pool);
            control.start();
        }
        deleteOnExit(baseDir.toFile());
        deleteOnExit(docBase.toFile());
    }

    private static void addFilter(Context context, String name, javax.servlet.Filter filter) {
        FilterDef def = new FilterDef();
        def.setFilterName(name);
        def.setFilter(filter);
        context.addFilterDef(def);
        FilterMap map = new FilterMap();
        map.setFilterName(name);
        map.addURLPattern("/*");
        context.addFilterMap(map);
    }

    void awaitShutdown() throws InterruptedException {
        stopped.await();
    }

    synchronized void shutdownGracefully() {
        if (shuttingDown) {
            return;
        }
        shuttingDown = true;
        try {
            GRACEFUL.info("Commencing graceful shutdown. Waiting for active requests to complete");
            if (control != null) {
                control.stop();
            }
            for (Connector connector : tomcat.getService().findConnectors()) {
                connector.pause();
            }
            GRACEFUL.info("Graceful shutdown complete");
            tomcat.stop();
            tomcat.destroy();
            if (pool != null) {
                pool.shutdown();
            }
        } catch (Exception ex) {
            LoggerFactory.getLogger(CrmServer.class).warn("Shutdown did not complete cleanly", ex);
        } finally {
            stopped.countDown();
        }
    }

    private static void deleteOnExit(File dir) {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> deleteRecursively(dir)));
    }

    private static void deleteRecursively(File file) {
        File[] children = file.listFiles();
        if (children != null) {
            for (File child : children) {
                deleteRecursively(child);
            }
        }
        file.delete();
    }
}
