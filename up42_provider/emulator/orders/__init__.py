"""Orders: one store under both generations (2023 ``/workspaces/{ws}/orders``, ``/v2/orders``)."""
