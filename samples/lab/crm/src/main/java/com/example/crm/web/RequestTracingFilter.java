package com.example.crm.web;

import java.io.IOException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Pattern;

import javax.servlet.Filter;
import javax.servlet.FilterChain;
import javax.servlet.ServletException;
import javax.servlet.ServletRequest;
import javax.servlet.ServletResponse;
import javax.servlet.http.HttpServletRequest;

import org.slf4j.MDC;

import com.example.crm.CrmSettings;

/**
 * Puts the request id from the gateway's X-Request-ID header into the logging context, as
 * Spring Cloud Sleuth (2.x: {@code requestId}) or Micrometer Tracing (3.x: {@code traceId}
 * and a new {@code spanId}) would.
 */
public final class RequestTracingFilter implements Filter {

    private static final Pattern TRACE_ID = Pattern.compile("[0-9a-f]{32}");

    private final CrmSettings settings;

    public RequestTracingFilter(CrmSettings settings) {
        this.settings = settings;
    }

    @Override
    public void doFilter(ServletRequest request, ServletResponse response, FilterChain chain)
            throws IOException, ServletException {
        String requestId = ((HttpServletRequest) request).getHeader("X-Request-ID");
        try {
            if (settings.boot3()) {
                String traceId = requestId != null && TRACE_ID.matcher(requestId).matches() ? requestId : randomHex(32);
                MDC.put("traceId", traceId);
                MDC.put("spanId", randomHex(16));
            } else {
                MDC.put("requestId", requestId != null ? requestId : randomHex(32));
            }
            chain.doFilter(request, response);
        } finally {
            MDC.remove("requestId");
            MDC.remove("traceId");
            MDC.remove("spanId");
        }
    }

    static String randomHex(int length) {
        StringBuilder hex = new StringBuilder(length);
        ThreadLocalRandom random = ThreadLocalRandom.current();
        for (int i = 0; i < length; i++) {
            hex.append(Character.forDigit(random.nextInt(16), 16));
        }
        return hex.toString();
    }
}
