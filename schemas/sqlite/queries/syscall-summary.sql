-- Syscalls by name: how many, how many failed (negative return), how many never returned.
SELECT name, count(*) AS calls, count(CASE WHEN ret < 0 THEN 1 END) AS failed, count(*) - count(ret) AS unreturned
FROM syscall_log GROUP BY name ORDER BY calls DESC;
