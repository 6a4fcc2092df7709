package com.example.crm.logging;

import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;

import ch.qos.logback.classic.pattern.ThrowableProxyConverter;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.core.CoreConstants;
import ch.qos.logback.core.LayoutBase;

/**
 * Spring Boot's structured logging in the Elastic Common Schema ({@code logging.structured.format.file=ecs}),
 * one JSON object per line, for a logback that has no JSON encoder of its own.
 *
 * <p>With {@code nested=false} the keys are flat and dotted, in the order Spring Boot 3.4 writes them:
 * {@code @timestamp}, {@code log.level}, {@code process.pid}, {@code process.thread.name},
 * {@code service.name}, {@code service.version}, {@code log.logger}, {@code message}, the MDC entries,
 * {@code error.type}, {@code error.message}, {@code error.stack_trace} and {@code ecs.version}. With
 * {@code nested=true} the same members are written as objects ({@code "log":{"level":..,"logger":..}}),
 * as later Spring Boot releases do. Timestamps are {@link Instant#toString()} (UTC, {@code Z}) to the
 * millisecond, all that logback 1.2 keeps (Spring Boot's logback 1.5 writes microseconds); strings are
 * escaped as Spring Boot's JSON writer escapes them ({@code /} as {@code \/}).
 */
public class EcsJsonLayout extends LayoutBase<ILoggingEvent> {

    private final ThrowableProxyConverter throwableConverter = new ThrowableProxyConverter();
    private boolean nested;
    private String serviceName = "";
    private String serviceVersion = "";

    public void setNested(boolean nested) {
        this.nested = nested;
    }

    public void setServiceName(String serviceName) {
        this.serviceName = serviceName;
    }

    public void setServiceVersion(String serviceVersion) {
        this.serviceVersion = serviceVersion;
    }

    @Override
    public void start() {
        throwableConverter.start();
        super.start();
    }

    @Override
    public String doLayout(ILoggingEvent event) {
        StringBuilder out = new StringBuilder(256);
        out.append('{');
        member(out, "@timestamp", Instant.ofEpochMilli(event.getTimeStamp()).toString());
        String pid = System.getProperty("PID");
        IThrowableProxy error = event.getThrowableProxy();
        if (nested) {
            Map<String, Object> log = new LinkedHashMap<>();
            log.put("level", event.getLevel().toString());
            log.put("logger", event.getLoggerName());
            object(out, "log", log);
            Map<String, Object> process = new LinkedHashMap<>();
            if (pid != null) {
                process.put("pid", Long.valueOf(pid));
            }
            Map<String, Object> thread = new LinkedHashMap<>();
            thread.put("name", event.getThreadName());
            process.put("thread", thread);
            object(out, "process", process);
            object(out, "service", service());
            member(out, "message", event.getFormattedMessage());
            for (Map.Entry<String, String> entry : event.getMDCPropertyMap().entrySet()) {
                member(out, entry.getKey(), entry.getValue());
            }
            if (error != null) {
                Map<String, Object> errorMembers = new LinkedHashMap<>();
                errorMembers.put("type", error.getClassName());
                errorMembers.put("message", error.getMessage());
                errorMembers.put("stack_trace", throwableConverter.convert(event));
                object(out, "error", errorMembers);
            }
            Map<String, Object> ecs = new LinkedHashMap<>();
            ecs.put("version", "8.11");
            object(out, "ecs", ecs);
        } else {
            member(out, "log.level", event.getLevel().toString());
            if (pid != null) {
                member(out, "process.pid", Long.valueOf(pid));
            }
            member(out, "process.thread.name", event.getThreadName());
            for (Map.Entry<String, Object> entry : service().entrySet()) {
                member(out, "service." + entry.getKey(), entry.getValue());
            }
            member(out, "log.logger", event.getLoggerName());
            member(out, "message", event.getFormattedMessage());
            for (Map.Entry<String, String> entry : event.getMDCPropertyMap().entrySet()) {
                member(out, entry.getKey(), entry.getValue());
            }
            if (error != null) {
                member(out, "error.type", error.getClassName());
                member(out, "error.message", error.getMessage());
                member(out, "error.stack_trace", throwableConverter.convert(event));
            }
            member(out, "ecs.version", "8.11");
        }
        return out.append('}').append(CoreConstants.LINE_SEPARATOR).toString();
    }

    private Map<String, Object> service() {
        Map<String, Object> service = new LinkedHashMap<>();
        if (!serviceName.isEmpty()) {
            service.put("name", serviceName);
        }
        if (!serviceVersion.isEmpty()) {
            service.put("version", serviceVersion);
        }
        return service;
    }

    private static void object(StringBuilder out, String name, Map<String, Object> members) {
        if (members.isEmpty()) {
            return;
        }
        comma(out);
        string(out, name);
        out.append(":{");
        for (Map.Entry<String, Object> entry : members.entrySet()) {
            if (entry.getValue() instanceof Map) {
                @SuppressWarnings("unchecked")
                Map<String, Object> inner = (Map<String, Object>) entry.getValue();
                object(out, entry.getKey(), inner);
            } else {
                member(out, entry.getKey(), entry.getValue());
            }
        }
        out.append('}');
    }

    private static void member(StringBuilder out, String name, Object value) {
        if (value == null) {
            return;  // Spring Boot leaves out members whose value is null
        }
        comma(out);
        string(out, name);
        out.append(':');
        if (value instanceof Number) {
            out.append(value);
        } else {
            string(out, value.toString());
        }
    }

    private static void comma(StringBuilder out) {
        char last = out.charAt(out.length() - 1);
        if (last != '{') {
            out.append(',');
        }
    }

    private static void string(StringBuilder out, String text) {
        out.append('"');
        for (int i = 0; i < text.length(); i++) {
            char ch = text.charAt(i);
            switch (ch) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '/' -> out.append("\\/");
                case '\b' -> out.append("\\b");
                case '\f' -> out.append("\\f");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (Character.isISOControl(ch)) {
                        out.append(String.format("\\u%04X", (int) ch));
                    } else {
                        out.append(ch);
                    }
                }
            }
        }
        out.append('"');
    }
}
