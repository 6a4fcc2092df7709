package com.example.crm.db;

import java.util.Optional;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.example.crm.domain.Customer;

/**
 * Customers of the demo data set. Ids ending in 13 (13, 113, ...) have no region recorded;
 * ids 9000-9099 are large accounts whose contract list takes long to load.
 */
public final class CustomerRepository {

    private static final Logger log = LoggerFactory.getLogger(CustomerRepository.class);
    private static final String[] REGIONS = {"EMEA", "APAC", "NA", "LATAM"};
    private static final long LARGE_ACCOUNT_QUERY_MS = 1500;

    private final ConnectionPool pool;

    public CustomerRepository(ConnectionPool pool) {
        this.pool = pool;
    }

    public Optional<Customer> findById(long id) {
        try (PooledConnection connection = JdbcSupport.getConnection(pool)) {
            connection.execute("select * from customer where id = ?", 0);
            if (id <= 0 || (id > 500 && id < 9000) || id > 9099) {
                return Optional.empty();
            }
            String region = (id % 100 == 13) ? null : REGIONS[(int) (id % REGIONS.length)];
            int contracts = 1 + (int) (id % 7);
            if (id >= 9000) {
                contracts = 18_000 + (int) (id % 1000);
                long took = connection.execute("select * from contract where customer_id = ?", LARGE_ACCOUNT_QUERY_MS);
                log.warn("Slow query ({} ms): select * from contract where customer_id = ? [{} rows]", took, contracts);
            }
            return Optional.of(new Customer(id, "Customer " + id, region, contracts));
        }
    }
}
