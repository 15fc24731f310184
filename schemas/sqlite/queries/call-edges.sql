-- Caller -> callee pairs by number of calls, all threads together.
SELECT caller, callee, sum(calls) AS calls FROM call_graph GROUP BY caller, callee ORDER BY calls DESC LIMIT 50;
