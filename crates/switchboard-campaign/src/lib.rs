//! Campaign scheduler: call-back (回访) and visit-invitation campaigns, customer-local calling windows, SLAs, retries, quotas and payouts. Pure and clock-driven.
