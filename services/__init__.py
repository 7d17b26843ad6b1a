"""netlab's services: sans-IO wire protocols, Trio servers and their clients."""
