package com.example.crm.db;

import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;

import com.example.crm.domain.Ticket;

/**
 * Stores tickets; numbers are handed out from a sequence (its cache starts anywhere after a restart).
 */
public final class TicketRepository {

    private final ConnectionPool pool;
    private final AtomicLong sequence = new AtomicLong(ThreadLocalRandom.current().nextLong(100_000, 900_000));

    public TicketRepository(ConnectionPool pool) {
        this.pool = pool;
    }

    public Ticket insert(long customerId, String subject, String priority) {
        try (PooledConnection connection = JdbcSupport.getConnection(pool)) {
            connection.execute("insert into ticket (customer_id, subject, priority) values (?, ?, ?)", 0);
            return new Ticket("T-" + sequence.incrementAndGet(), customerId, subject, priority);
        }
    }
}
