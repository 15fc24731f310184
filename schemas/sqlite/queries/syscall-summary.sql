-- Syscalls by name: how many, how many failed (negative return), how many never returned.
SELECT name, count(*) AS calls, sum(ret < 0) AS failed, sum(ret IS NULL) AS unreturned
FROM syscall_log GROUP BY name ORDER BY calls DESC;
