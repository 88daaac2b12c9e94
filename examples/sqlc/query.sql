-- name: CreateAuthor :one
INSERT INTO authors (name, bio, avatar) VALUES (?, ?, ?) RETURNING *;

-- name: GetAuthor :one
SELECT * FROM authors WHERE id = ? LIMIT 1;

-- name: ListAuthors :many
SELECT * FROM authors ORDER BY name;

-- name: UpdateAuthorBio :execrows
UPDATE authors SET bio = ? WHERE id = ?;

-- name: DeleteAuthor :exec
DELETE FROM authors WHERE id = ?;

-- name: CountAuthors :one
SELECT count(*) FROM authors;

-- name: SetAuthorBio :exec
UPDATE authors SET bio = ? WHERE id = ?;
