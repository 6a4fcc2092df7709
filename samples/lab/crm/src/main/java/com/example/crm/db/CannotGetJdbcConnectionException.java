package com.example.crm.db;

/**
 * Thrown when no JDBC connection could be obtained (modelled on Spring's exception of that name).
 */
public class CannotGetJdbcConnectionException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    public CannotGetJdbcConnectionException(String message, Throwable cause) {
        super(message, cause);
    }
}
