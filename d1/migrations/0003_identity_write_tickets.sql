CREATE TABLE `identity_write_tickets` (
	`ticket` text PRIMARY KEY NOT NULL
);
