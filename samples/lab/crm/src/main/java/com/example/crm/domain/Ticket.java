package com.example.crm.domain;

/** A support ticket. */
public record Ticket(String id, long customerId, String subject, String priority) {
}
