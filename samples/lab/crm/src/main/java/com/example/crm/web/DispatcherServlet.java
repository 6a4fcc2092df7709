package com.example.crm.web;

import java.io.IOException;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import javax.servlet.DispatcherType;
import javax.servlet.RequestDispatcher;
import javax.servlet.ServletException;
import javax.servlet.http.HttpServlet;
import javax.servlet.http.HttpServletRequest;
import javax.servlet.http.HttpServletResponse;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.example.crm.CrmSettings;
import com.example.crm.db.CannotGetJdbcConnectionException;

/**
 * Front controller mapping the API's few routes, registered as {@code dispatcherServlet} like
 * Spring MVC's, with Spring MVC's logging for unmapped paths and failed requests.
 */
public final class DispatcherServlet extends HttpServlet {

    private static final long serialVersionUID = 1L;
    private static final Logger log = LoggerFactory.getLogger("org.springframework.web.servlet.DispatcherServlet");
    private static final Logger pageNotFound = LoggerFactory.getLogger("org.springframework.web.servlet.PageNotFound");
    private static final Pattern CUSTOMER = Pattern.compile("/api/customers/(\\d{1,9})");

    private final transient CrmSettings settings;
    private final transient Json json;
    private final transient CustomerController customers;
    private final transient TicketController tickets;
    private final transient GlobalExceptionHandler exceptionHandler;

    public DispatcherServlet(CrmSettings settings, Json json, CustomerController customers, TicketController tickets,
            GlobalExceptionHandler exceptionHandler) {
        this.settings = settings;
        this.json = json;
        this.customers = customers;
        this.tickets = tickets;
        this.exceptionHandler = exceptionHandler;
    }

    @Override
    public void init() {
        long start = System.nanoTime();
        getServletContext().log("Initializing Spring DispatcherServlet 'dispatcherServlet'");
        log.info("Initializing Servlet 'dispatcherServlet'");
        log.info("Completed initialization in {} ms", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start) + 1);
    }

    @Override
    protected void service(HttpServletRequest request, HttpServletResponse response)
            throws ServletException, IOException {
        if (request.getDispatcherType() == DispatcherType.ERROR || "/error".equals(request.getRequestURI())) {
            renderError(request, response);
            return;
        }
        try {
            doDispatch(request, response);
        } catch (CannotGetJdbcConnectionException ex) {
            exceptionHandler.handleDataAccess(request, response, ex);
        } catch (RuntimeException ex) {
            String message = settings.boot3() ? "Request processing failed: " + ex
                    : "Request processing failed; nested exception is " + ex;
            throw new ServletException(message, ex);
        }
    }

    private void doDispatch(HttpServletRequest request, HttpServletResponse response) throws IOException {
        String method = request.getMethod();
        String path = request.getRequestURI();
        if ("GET".equals(method) && "/api/health".equals(path)) {
            json.write(response, 200, Map.of("status", "UP"));
            return;
        }
        Matcher customer = CUSTOMER.matcher(path);
        if ("GET".equals(method) && customer.matches()) {
            customers.get(Long.parseLong(customer.group(1)), response);
            return;
        }
        if ("POST".equals(method) && "/api/tickets".equals(path)) {
            tickets.create(request, response);
            return;
        }
        pageNotFound.warn("No mapping for {} {}", method, path);
        response.sendError(HttpServletResponse.SC_NOT_FOUND);
    }

    private void renderError(HttpServletRequest request, HttpServletResponse response) throws IOException {
        Object code = request.getAttribute(RequestDispatcher.ERROR_STATUS_CODE);
        int status = code instanceof Integer ? (Integer) code : 500;
        Object uri = request.getAttribute(RequestDispatcher.ERROR_REQUEST_URI);
        String path = uri != null ? uri.toString() : request.getRequestURI();
        json.write(response, status, json.errorBody(status, path, null));
    }
}
