CREATE TABLE authors (
  id        INTEGER PRIMARY KEY,
  name      TEXT NOT NULL,
  bio       TEXT,
  avatar    BLOB,
  joined_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
