"""netlab's lab harness: stacks, client fleets, faults and invariants (growing)."""
