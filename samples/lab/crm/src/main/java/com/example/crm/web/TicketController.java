package com.example.crm.web;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;

import javax.servlet.http.HttpServletRequest;
import javax.servlet.http.HttpServletResponse;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.example.crm.db.TicketRepository;
import com.example.crm.domain.Ticket;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;

/**
 * {@code POST /api/tickets}, with bean-validation style checks reported the way Spring MVC's
 * DefaultHandlerExceptionResolver reports them.
 */
public final class TicketController {

    private static final Logger log = LoggerFactory.getLogger(TicketController.class);
    private static final Logger resolver =
            LoggerFactory.getLogger("org.springframework.web.servlet.mvc.support.DefaultHandlerExceptionResolver");
    private static final String HANDLER = "public org.springframework.http.ResponseEntity<com.example.crm.web.TicketView> "
            + "com.example.crm.web.TicketController.create(com.example.crm.web.TicketRequest)";

    private final Json json;
    private final TicketRepository repository;

    public TicketController(Json json, TicketRepository repository) {
        this.json = json;
        this.repository = repository;
    }

    void create(HttpServletRequest request, HttpServletResponse response) throws IOException {
        JsonNode payload = (JsonNode) request.getAttribute(PayloadAuditFilter.PAYLOAD_ATTRIBUTE);
        if (payload == null) {
            resolver.warn("Resolved [org.springframework.http.converter.HttpMessageNotReadableException: "
                    + "Required request body is missing: " + HANDLER + "]");
            response.sendError(HttpServletResponse.SC_BAD_REQUEST);
            return;
        }
        TicketRequest ticket;
        try {
            ticket = json.mapper().treeToValue(payload, TicketRequest.class);
        } catch (JsonProcessingException ex) {
            resolver.warn("Resolved [org.springframework.http.converter.HttpMessageNotReadableException: "
                    + "JSON parse error: " + ex.getOriginalMessage() + "]");
            response.sendError(HttpServletResponse.SC_BAD_REQUEST);
            return;
        }
        String error = firstFieldError(ticket);
        if (error != null) {
            resolver.warn("Resolved [org.springframework.web.bind.MethodArgumentNotValidException: "
                    + "Validation failed for argument [0] in " + HANDLER + ": [" + error + "] ]");
            response.sendError(HttpServletResponse.SC_BAD_REQUEST);
            return;
        }
        String priority = ticket.priority != null ? ticket.priority : "normal";
        Ticket created = repository.insert(ticket.customerId, ticket.subject, priority);
        log.info("Created ticket {} for customer {} (priority={})", created.id(), created.customerId(), priority);
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("id", created.id());
        body.put("customer_id", created.customerId());
        body.put("subject", created.subject());
        body.put("priority", created.priority());
        body.put("status", "OPEN");
        response.setHeader("Location", "/api/tickets/" + created.id());
        json.write(response, 201, body);
    }

    private static String firstFieldError(TicketRequest ticket) {
        if (ticket.subject == null || ticket.subject.isBlank()) {
            return fieldError("subject", ticket.subject == null ? "null" : ticket.subject, "NotBlank", "String",
                    "must not be blank");
        }
        if (ticket.customerId == null) {
            return fieldError("customerId", "null", "NotNull", "Long", "must not be null");
        }
        return null;
    }

    private static String fieldError(String field, String rejected, String constraint, String type, String message) {
        return "Field error in object 'ticket' on field '" + field + "': rejected value [" + rejected + "]; codes ["
                + constraint + ".ticket." + field + "," + constraint + "." + field + "," + constraint + ".java.lang."
                + type + "," + constraint + "]; arguments [org.springframework.context.support."
                + "DefaultMessageSourceResolvable: codes [ticket." + field + "," + field + "]; arguments []; "
                + "default message [" + field + "]]; default message [" + message + "]";
    }
}
