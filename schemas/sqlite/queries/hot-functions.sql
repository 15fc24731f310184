-- Functions by total cost (trace.cost_unit), with calls and self cost.
SELECT function, calls, self_cost, total_cost FROM functions ORDER BY total_cost DESC LIMIT 25;
