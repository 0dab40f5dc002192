/* SPDX-License-Identifier: Apache-2.0 */
/* A memcached text-protocol server on loopback for the store's failure tests, run in a thread:
 * it answers each command from a script ("CLOSE": close the connection without answering),
 * else with a default (gets: END, storage commands: STORED, delete/touch: NOT_FOUND), and can
 * be made to hang (accept nothing, read nothing) and resume, like a SIGSTOPped memcached.
 * One connection is served at a time; the others wait in the listen backlog. */
#ifndef FAKE_MCSERVER_H
#define FAKE_MCSERVER_H

typedef struct fake_mcserver_t fake_mcserver_t;

/* Starts listening on 127.0.0.1 (a free port). script: NULL-terminated, may be NULL. */
fake_mcserver_t *fake_mcserver_start(const char *const *script);
int fake_mcserver_port(const fake_mcserver_t *srv);
void fake_mcserver_hang(fake_mcserver_t *srv, int hang);
/* Commands read so far. */
int fake_mcserver_commands(fake_mcserver_t *srv);
void fake_mcserver_stop(fake_mcserver_t *srv);

#endif
