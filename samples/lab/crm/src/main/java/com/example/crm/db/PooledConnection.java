package com.example.crm.db;

import java.util.concurrent.ThreadLocalRandom;

/**
 * A connection borrowed from {@link ConnectionPool}; executing a statement takes the
 * configured database latency.
 */
public final class PooledConnection implements AutoCloseable {

    private final ConnectionPool pool;
    private final int id;

    PooledConnection(ConnectionPool pool, int id) {
        this.pool = pool;
        this.id = id;
    }

    public int id() {
        return id;
    }

    /** Runs a statement; returns the time it took in milliseconds. */
    public long execute(String sql, long extraMillis) {
        long start = System.nanoTime();
        long millis = DatabaseLatency.currentMillis() + extraMillis + ThreadLocalRandom.current().nextInt(1, 4);
        try {
            Thread.sleep(millis);
        } catch (InterruptedException ex) {
            Thread.currentThread().interrupt();
        }
        return (System.nanoTime() - start) / 1_000_000L;
    }

    @Override
    public void close() {
        pool.release(this);
    }
}
