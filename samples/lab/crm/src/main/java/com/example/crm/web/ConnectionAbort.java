package com.example.crm.web;

import java.lang.reflect.Field;

import javax.servlet.ServletRequest;
import javax.servlet.ServletRequestWrapper;

import org.apache.catalina.connector.Request;
import org.apache.catalina.connector.RequestFacade;
import org.apache.coyote.ActionCode;

/**
 * Drops the client connection without writing any response, by asking Tomcat's connector to
 * close the socket at once.
 */
final class ConnectionAbort {

    private ConnectionAbort() {
    }

    static void closeNow(ServletRequest request) {
        ServletRequest current = request;
        while (current instanceof ServletRequestWrapper) {
            current = ((ServletRequestWrapper) current).getRequest();
        }
        try {
            Field field = RequestFacade.class.getDeclaredField("request");
            field.setAccessible(true);
            Request catalinaRequest = (Request) field.get(current);
            catalinaRequest.getCoyoteRequest().action(ActionCode.CLOSE_NOW, null);
        } catch (ReflectiveOperationException ex) {
            throw new IllegalStateException("Cannot reach the connector of " + current.getClass().getName(), ex);
        }
    }
}
