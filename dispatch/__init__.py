"""Units, crews, work orders, routing, clocks, callbacks, complaints."""
