package com.example.crm.domain;

/** A customer row. {@code region} may be null for records imported from the old system. */
public record Customer(long id, String name, String region, int contracts) {
}
