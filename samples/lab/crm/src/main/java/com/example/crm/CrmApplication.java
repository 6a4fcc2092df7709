package com.example.crm;

import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Locale;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.bridge.SLF4JBridgeHandler;

import ch.qos.logback.classic.LoggerContext;
import sun.misc.Signal;

/**
 * Entry point of the CRM stand-in: an old Spring Boot service imitated with embedded Tomcat,
 * Jackson and logback, logging the way Spring Boot does.
 */
public final class CrmApplication {

    public static final String VERSION = "1.8.3";

    private CrmApplication() {
    }

    public static void main(String[] args) throws Exception {
        long startNanos = System.nanoTime();
        CrmSettings settings = CrmSettings.fromArgs(args);
        // Spring Boot publishes the process id for the ${PID} part of its log pattern.
        System.setProperty("PID", Long.toString(ProcessHandle.current().pid()));
        // Tomcat logs through java.util.logging (JULI); route it into logback as Spring Boot does.
        SLF4JBridgeHandler.removeHandlersForRootLogger();
        SLF4JBridgeHandler.install();

        Logger log = LoggerFactory.getLogger(CrmApplication.class);
        log.info(startingMessage(settings));
        log.info("No active profile set, falling back to 1 default profile: \"default\"");

        CrmServer server = new CrmServer(settings);
        installSignalHandlers(server);
        server.start();

        double seconds = (System.nanoTime() - startNanos) / 1e9;
        double jvmSeconds = ManagementFactory.getRuntimeMXBean().getUptime() / 1000.0;
        log.info(String.format(Locale.ROOT, "Started CrmApplication in %.3f seconds (%s running for %.3f)",
                seconds, settings.boot3() ? "process" : "JVM", jvmSeconds));
        server.awaitShutdown();
    }

    private static String startingMessage(CrmSettings settings) {
        String javaVersion = System.getProperty("java.version");
        long pid = ProcessHandle.current().pid();
        String user = System.getProperty("user.name");
        String dir = System.getProperty("user.dir");
        String source;
        try {
            Path location = Paths.get(CrmApplication.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            source = location.toString();
        } catch (Exception ex) {
            source = "unknown";
        }
        if (settings.boot3()) {
            return String.format("Starting CrmApplication v%s using Java %s with PID %d (%s started by %s in %s)",
                    VERSION, javaVersion, pid, source, user, dir);
        }
        return String.format("Starting CrmApplication v%s using Java %s on %s with PID %d (%s started by %s in %s)",
                VERSION, javaVersion, hostName(), pid, source, user, dir);
    }

    private static String hostName() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (Exception ex) {
            return "localhost";
        }
    }

    private static void installSignalHandlers(CrmServer server) {
        // A deployment stops the service with SIGTERM; shut down gracefully before the JVM's own
        // shutdown hooks reset java.util.logging, so Tomcat's stop messages still reach the log.
        Signal.handle(new Signal("TERM"), signal -> shutdownAndExit(server));
        Signal.handle(new Signal("INT"), signal -> shutdownAndExit(server));
    }

    private static void shutdownAndExit(CrmServer server) {
        Thread shutdown = new Thread(server::shutdownGracefully, "SpringApplicationShutdownHook");
        shutdown.start();
        try {
            shutdown.join(10_000);
        } catch (InterruptedException ex) {
            Thread.currentThread().interrupt();
        } finally {
            ((LoggerContext) LoggerFactory.getILoggerFactory()).stop();
            System.exit(0);
        }
    }
}
