package com.example.crm.logging;

import java.util.Map;

import ch.qos.logback.classic.pattern.ClassicConverter;
import ch.qos.logback.classic.spi.ILoggingEvent;

/**
 * Renders the correlation part of Spring Boot 3's log line: {@code [<traceId>-<spanId>] } when
 * the MDC has them, else a bracket of blanks of the same width ({@code traceId(32),spanId(16)}).
 */
public class CorrelationIdConverter extends ClassicConverter {

    private static final int TRACE_WIDTH = 32;
    private static final int SPAN_WIDTH = 16;

    @Override
    public String convert(ILoggingEvent event) {
        Map<String, String> mdc = event.getMDCPropertyMap();
        String traceId = mdc.get("traceId");
        String spanId = mdc.get("spanId");
        StringBuilder out = new StringBuilder(TRACE_WIDTH + SPAN_WIDTH + 4).append('[');
        if (isEmpty(traceId) && isEmpty(spanId)) {
            out.append(" ".repeat(TRACE_WIDTH)).append(' ').append(" ".repeat(SPAN_WIDTH));
        } else {
            out.append(padded(traceId, TRACE_WIDTH)).append('-').append(padded(spanId, SPAN_WIDTH));
        }
        return out.append("] ").toString();
    }

    private static boolean isEmpty(String value) {
        return value == null || value.isEmpty();
    }

    private static String padded(String value, int width) {
        String text = value == null ? "" : value;
        return text.length() >= width ? text : text + " ".repeat(width - text.length());
    }
}
