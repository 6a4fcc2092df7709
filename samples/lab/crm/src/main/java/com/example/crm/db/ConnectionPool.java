package com.example.crm.db;

import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A small fixed-size connection pool in the manner of HikariCP: a borrower waits at most
 * {@code connectionTimeoutMs} for a free connection and then gets an
 * {@link SQLTransientConnectionException} with HikariCP's wording.
 */
public final class ConnectionPool {

    private static final Logger log = LoggerFactory.getLogger(ConnectionPool.class);

    private final String poolName;
    private final int size;
    private final long connectionTimeoutMs;
    private final BlockingQueue<PooledConnection> idle;
    private final List<PooledConnection> held = new ArrayList<>();

    public ConnectionPool(String poolName, int size, long connectionTimeoutMs) {
        this.poolName = poolName;
        this.size = size;
        this.connectionTimeoutMs = connectionTimeoutMs;
        this.idle = new ArrayBlockingQueue<>(size);
    }

    public void start() {
        log.info("{} - Starting...", poolName);
        for (int i = 1; i <= size; i++) {
            idle.add(new PooledConnection(this, i));
        }
        log.info("{} - Start completed.", poolName);
    }

    public PooledConnection getConnection() throws SQLException {
        try {
            PooledConnection connection = idle.poll(connectionTimeoutMs, TimeUnit.MILLISECONDS);
            if (connection == null) {
                throw new SQLTransientConnectionException(poolName
                        + " - Connection is not available, request timed out after " + connectionTimeoutMs + "ms.");
            }
            return connection;
        } catch (InterruptedException ex) {
            Thread.currentThread().interrupt();
            throw new SQLTransientConnectionException(poolName + " - Interrupted during connection acquisition", ex);
        }
    }

    void release(PooledConnection connection) {
        idle.offer(connection);
    }

    /** Takes every connection out of the pool, as a stuck batch job holding its connections would. */
    public synchronized int holdAll(long waitMs) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(waitMs);
        while (held.size() < size && System.nanoTime() < deadline) {
            PooledConnection connection = idle.poll(10, TimeUnit.MILLISECONDS);
            if (connection != null) {
                held.add(connection);
            }
        }
        return held.size();
    }

    public synchronized int releaseHeld() {
        int count = held.size();
        for (PooledConnection connection : held) {
            idle.offer(connection);
        }
        held.clear();
        return count;
    }

    public void shutdown() {
        log.info("{} - Shutdown initiated...", poolName);
        idle.clear();
        log.info("{} - Shutdown completed.", poolName);
    }
}
