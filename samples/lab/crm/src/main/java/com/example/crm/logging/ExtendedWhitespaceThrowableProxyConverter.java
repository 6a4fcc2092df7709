package com.example.crm.logging;

import ch.qos.logback.classic.pattern.ExtendedThrowableProxyConverter;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.core.CoreConstants;

/**
 * The {@code %wEx} conversion word of Spring Boot's logback setup: logback's extended stack
 * trace with a line separator before and after it, so a trace stands apart from the next entry.
 */
public class ExtendedWhitespaceThrowableProxyConverter extends ExtendedThrowableProxyConverter {

    @Override
    protected String throwableProxyToString(IThrowableProxy proxy) {
        return CoreConstants.LINE_SEPARATOR + super.throwableProxyToString(proxy) + CoreConstants.LINE_SEPARATOR;
    }
}
