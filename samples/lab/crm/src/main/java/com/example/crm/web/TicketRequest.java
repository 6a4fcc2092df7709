package com.example.crm.web;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * Body of {@code POST /api/tickets}.
 */
public final class TicketRequest {

    @JsonProperty("customer_id")
    public Long customerId;

    @JsonProperty("subject")
    public String subject;

    @JsonProperty("priority")
    public String priority;

    @JsonProperty("body")
    public String body;
}
