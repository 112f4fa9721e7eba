INSERT INTO t (at, note) VALUES (now(), 'x');
