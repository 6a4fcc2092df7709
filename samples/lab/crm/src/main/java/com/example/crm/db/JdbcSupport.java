package com.example.crm.db;

import java.sql.SQLException;

/**
 * Obtains connections and translates failures the way Spring's DataSourceUtils does.
 */
public final class JdbcSupport {

    private static volatile boolean nestedMessages = true;

    private JdbcSupport() {
    }

    /** Spring 5 appended the cause to the message ("; nested exception is ..."), Spring 6 does not. */
    public static void useNestedMessages(boolean nested) {
        nestedMessages = nested;
    }

    public static PooledConnection getConnection(ConnectionPool pool) {
        try {
            return pool.getConnection();
        } catch (SQLException ex) {
            String message = "Failed to obtain JDBC Connection";
            if (nestedMessages) {
                message += "; nested exception is " + ex;
            }
            throw new CannotGetJdbcConnectionException(message, ex);
        }
    }
}
