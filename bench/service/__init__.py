"""The submission service: submit from anywhere, scored by workers, shown on the board.

    bench team create NAME         -> a team and its token (stored hashed: bench.service.teams)
    bench submit DIR --task ID     -> cheap checks (manifest, files, sizes, hash, declared tasks, names;
                                      no model runs), the folder's files into the store
                                      (bench.service.artifacts), one queued job per task
                                      (bench.service.queue)
    bench worker                   -> claims a job atomically, scores it through the one road
                                      (bench.recording.record_run, in the sandbox), heartbeats while it
                                      runs, records done (its result id) or failed (the reason)
                                      (bench.service.worker)
    bench queue                    -> the jobs, their status and reasons; cancel / retry by the owner

Everything lives in the results store (SQLite for one machine, PostgreSQL for several): the queue, the
teams and the submitted files, so a worker needs only the store's URL. A job whose worker stops
heartbeating for a lease is claimed again, a bounded number of times; a result is never stored twice
(a run's key identifies it, and a resumed run keeps the images scored before).
"""
