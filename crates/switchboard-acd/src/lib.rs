//! Automatic call distribution: queues, agent states, routing strategies, ring timeout, wait alerts, dropped-call call-backs and service-level figures. Pure and clock-driven.
