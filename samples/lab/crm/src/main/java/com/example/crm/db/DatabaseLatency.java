package com.example.crm.db;

/**
 * Extra time every statement takes; raised by the lab to simulate a database that has slowed down.
 */
public final class DatabaseLatency {

    private static volatile long extraMillis;

    private DatabaseLatency() {
    }

    public static long currentMillis() {
        return extraMillis;
    }

    public static void set(long millis) {
        extraMillis = Math.max(0, millis);
    }
}
