package com.example.crm.lab;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;

import com.example.crm.db.ConnectionPool;
import com.example.crm.db.DatabaseLatency;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

/**
 * Loopback-only control port used by the incident lab to switch database-side faults on and off
 * (hold every pooled connection; add latency to every statement). It logs nothing.
 */
public final class LabControlServer {

    private final HttpServer server;
    private final ConnectionPool pool;

    public LabControlServer(int port, ConnectionPool pool) throws IOException {
        this.pool = pool;
        this.server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 16);
        server.createContext("/lab/ready", exchange -> reply(exchange, "ready"));
        server.createContext("/lab/pool/hold", exchange -> {
            try {
                reply(exchange, "held=" + pool.holdAll(5000));
            } catch (InterruptedException ex) {
                Thread.currentThread().interrupt();
                reply(exchange, "interrupted");
            }
        });
        server.createContext("/lab/pool/release", exchange -> reply(exchange, "released=" + pool.releaseHeld()));
        server.createContext("/lab/latency", exchange -> {
            long millis = Long.parseLong(queryValue(exchange.getRequestURI(), "ms", "0"));
            DatabaseLatency.set(millis);
            reply(exchange, "latency=" + millis);
        });
    }

    public void start() {
        server.start();
    }

    public void stop() {
        server.stop(0);
    }

    private static String queryValue(URI uri, String name, String fallback) {
        String query = uri.getQuery();
        if (query != null) {
            for (String pair : query.split("&")) {
                if (pair.startsWith(name + "=")) {
                    return pair.substring(name.length() + 1);
                }
            }
        }
        return fallback;
    }

    private static void reply(HttpExchange exchange, String text) throws IOException {
        byte[] bytes = (text + "\n").getBytes(StandardCharsets.UTF_8);
        exchange.sendResponseHeaders(200, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }
}
