-- Per module: distinct blocks run, their bytes, and block executions (needs --events block).
SELECT module, count(*) AS blocks, sum(size) AS bytes, sum(executions) AS executions
FROM block_symbols GROUP BY module ORDER BY executions DESC;
