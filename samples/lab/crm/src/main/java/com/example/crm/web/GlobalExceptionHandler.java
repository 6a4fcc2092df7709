package com.example.crm.web;

import java.io.IOException;

import javax.servlet.http.HttpServletRequest;
import javax.servlet.http.HttpServletResponse;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The application's {@code @ControllerAdvice}: database failures are logged with their cause
 * chain and answered with 500.
 */
public final class GlobalExceptionHandler {

    private static final Logger log = LoggerFactory.getLogger(GlobalExceptionHandler.class);

    private final Json json;

    public GlobalExceptionHandler(Json json) {
        this.json = json;
    }

    void handleDataAccess(HttpServletRequest request, HttpServletResponse response, RuntimeException ex)
            throws IOException {
        log.error("Database access failed for {} {}", request.getMethod(), request.getRequestURI(), ex);
        json.write(response, 500, json.errorBody(500, request.getRequestURI(), "Database unavailable"));
    }
}
