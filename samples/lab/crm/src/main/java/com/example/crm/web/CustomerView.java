package com.example.crm.web;

import java.util.Locale;

import com.example.crm.domain.Customer;

/**
 * What the API returns for a customer.
 */
public record CustomerView(long id, String name, String region, int contracts) {

    static CustomerView of(Customer customer) {
        try {
            return new CustomerView(customer.id(), customer.name(), normaliseRegion(customer), customer.contracts());
        } catch (RuntimeException ex) {
            throw new IllegalStateException("Failed to render customer " + customer.id(), ex);
        }
    }

    private static String normaliseRegion(Customer customer) {
        return customer.region().trim().toUpperCase(Locale.ROOT);
    }
}
