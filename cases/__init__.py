"""Branch problem-case queues (work orders, 工单) and their SLA clocks."""
