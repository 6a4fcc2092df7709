package com.example.crm.web;

import java.io.IOException;
import java.util.Optional;

import javax.servlet.http.HttpServletResponse;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.example.crm.db.CustomerRepository;
import com.example.crm.domain.Customer;

/**
 * {@code GET /api/customers/{id}}.
 */
public final class CustomerController {

    private static final Logger log = LoggerFactory.getLogger(CustomerController.class);

    private final Json json;
    private final CustomerRepository repository;

    public CustomerController(Json json, CustomerRepository repository) {
        this.json = json;
        this.repository = repository;
    }

    void get(long id, HttpServletResponse response) throws IOException {
        log.info("Fetching customer {}", id);
        Optional<Customer> customer = repository.findById(id);
        if (customer.isEmpty()) {
            response.sendError(HttpServletResponse.SC_NOT_FOUND);
            return;
        }
        json.write(response, 200, CustomerView.of(customer.get()));
    }
}
