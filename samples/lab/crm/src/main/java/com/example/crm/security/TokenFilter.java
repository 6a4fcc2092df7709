package com.example.crm.security;

import java.io.IOException;
import java.time.Instant;
import java.util.Base64;

import javax.servlet.Filter;
import javax.servlet.FilterChain;
import javax.servlet.ServletException;
import javax.servlet.ServletRequest;
import javax.servlet.ServletResponse;
import javax.servlet.http.HttpServletRequest;
import javax.servlet.http.HttpServletResponse;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.example.crm.web.Json;
import com.fasterxml.jackson.databind.JsonNode;

/**
 * Bearer-token check of the resource server: the token is a JWT whose {@code exp} claim must
 * lie in the future. Rejections answer 401 like Spring Security's bearer token entry point.
 */
public final class TokenFilter implements Filter {

    private static final Logger log = LoggerFactory.getLogger(TokenFilter.class);

    private final Json json;

    public TokenFilter(Json json) {
        this.json = json;
    }

    @Override
    public void doFilter(ServletRequest request, ServletResponse response, FilterChain chain)
            throws IOException, ServletException {
        HttpServletRequest http = (HttpServletRequest) request;
        String path = http.getRequestURI();
        if (path.equals("/api/health") || path.equals("/error")) {
            chain.doFilter(request, response);
            return;
        }
        String header = http.getHeader("Authorization");
        String problem;
        if (header == null || !header.startsWith("Bearer ")) {
            problem = "Full authentication is required to access this resource";
        } else {
            problem = check(header.substring("Bearer ".length()).trim());
        }
        if (problem == null) {
            chain.doFilter(request, response);
            return;
        }
        log.warn("Authentication failed for {} {}: {}", http.getMethod(), path, problem);
        HttpServletResponse out = (HttpServletResponse) response;
        out.setHeader("WWW-Authenticate",
                "Bearer error=\"invalid_token\", error_description=\"" + problem + "\", "
                        + "error_uri=\"https://tools.ietf.org/html/rfc6750#section-3.1\"");
        out.setStatus(HttpServletResponse.SC_UNAUTHORIZED);
        out.setContentLength(0);
    }

    private String check(String token) {
        String[] parts = token.split("\\.");
        if (parts.length != 3) {
            return "An error occurred while attempting to decode the Jwt: Malformed token";
        }
        try {
            JsonNode claims = json.mapper().readTree(Base64.getUrlDecoder().decode(parts[1]));
            Instant expiresAt = Instant.ofEpochSecond(claims.path("exp").asLong(0));
            if (!Instant.now().isBefore(expiresAt)) {
                return "An error occurred while attempting to decode the Jwt: Jwt expired at " + expiresAt;
            }
            return null;
        } catch (IOException | IllegalArgumentException ex) {
            return "An error occurred while attempting to decode the Jwt: Malformed payload";
        }
    }
}
