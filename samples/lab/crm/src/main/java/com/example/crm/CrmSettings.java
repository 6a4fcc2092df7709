package com.example.crm;

/**
 * Command-line settings of the CRM stand-in, given Spring-style as {@code --name=value}.
 */
public final class CrmSettings {

    /** Which Spring Boot generation the log output imitates. */
    public enum LogStyle {
        BOOT2, BOOT3
    }

    public final int port;
    public final int controlPort;
    public final LogStyle style;
    public final int poolSize;
    public final long poolTimeoutMs;

    private CrmSettings(int port, int controlPort, LogStyle style, int poolSize, long poolTimeoutMs) {
        this.port = port;
        this.controlPort = controlPort;
        this.style = style;
        this.poolSize = poolSize;
        this.poolTimeoutMs = poolTimeoutMs;
    }

    public static CrmSettings fromArgs(String[] args) {
        int port = 8080;
        int controlPort = 0;
        LogStyle style = LogStyle.BOOT2;
        int poolSize = 10;
        long poolTimeoutMs = 250;
        for (String arg : args) {
            if (!arg.startsWith("--") || !arg.contains("=")) {
                throw new IllegalArgumentException("Unrecognised argument: " + arg);
            }
            String name = arg.substring(2, arg.indexOf('='));
            String value = arg.substring(arg.indexOf('=') + 1);
            switch (name) {
                case "server.port":
                    port = Integer.parseInt(value);
                    break;
                case "lab.control-port":
                    controlPort = Integer.parseInt(value);
                    break;
                case "logging.style":
                    style = value.startsWith("3") ? LogStyle.BOOT3 : LogStyle.BOOT2;
                    break;
                case "spring.datasource.hikari.maximum-pool-size":
                    poolSize = Integer.parseInt(value);
                    break;
                case "spring.datasource.hikari.connection-timeout":
                    poolTimeoutMs = Long.parseLong(value);
                    break;
                default:
                    throw new IllegalArgumentException("Unknown setting: " + name);
            }
        }
        return new CrmSettings(port, controlPort, style, poolSize, poolTimeoutMs);
    }

    public boolean boot3() {
        return style == LogStyle.BOOT3;
    }
}
