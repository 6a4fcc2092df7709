package com.example.crm.web;

import java.io.IOException;

import javax.servlet.Filter;
import javax.servlet.FilterChain;
import javax.servlet.ServletException;
import javax.servlet.ServletRequest;
import javax.servlet.ServletResponse;
import javax.servlet.http.HttpServletRequest;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;

/**
 * Reads JSON request bodies before anything else runs, so personal data can be masked in the
 * audit trail. Registered ahead of the tracing filter, so it logs without a request id. A body
 * it cannot read makes it drop the connection (meant as protection against smuggled requests).
 */
public final class PayloadAuditFilter implements Filter {

    public static final String PAYLOAD_ATTRIBUTE = PayloadAuditFilter.class.getName() + ".PAYLOAD";

    private static final Logger log = LoggerFactory.getLogger(PayloadAuditFilter.class);

    private final Json json;

    public PayloadAuditFilter(Json json) {
        this.json = json;
    }

    @Override
    public void doFilter(ServletRequest request, ServletResponse response, FilterChain chain)
            throws IOException, ServletException {
        HttpServletRequest http = (HttpServletRequest) request;
        if (hasJsonBody(http)) {
            try {
                JsonNode payload = json.mapper().readTree(http.getInputStream());
                http.setAttribute(PAYLOAD_ATTRIBUTE, payload);
            } catch (JsonProcessingException ex) {
                log.error("Unreadable JSON payload in {} {} ({} bytes), dropping connection",
                        http.getMethod(), http.getRequestURI(), http.getContentLengthLong(), ex);
                ConnectionAbort.closeNow(request);
                return;
            }
        }
        chain.doFilter(request, response);
    }

    private static boolean hasJsonBody(HttpServletRequest request) {
        String type = request.getContentType();
        return type != null && type.startsWith("application/json") && request.getContentLengthLong() != 0;
    }
}
