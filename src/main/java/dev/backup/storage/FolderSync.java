package dev.backup.storage;

import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Group commit for folder forces: many copies land in one folder at once (a backup of a
 * folder of small files), and each must see its move durable before it says "stored".
 * One force of the folder makes durable every move made in it before the force began, so
 * a caller that comes while a force is running waits for it to end and then for the next
 * one, which serves everyone who came meanwhile. A force that fails fails every caller
 * it was to serve (the next caller forces again). Called on worker threads (it blocks).
 */
final class FolderSync {
  /** Forces one folder to disk. */
  interface Force {
    void force(Path dir) throws IOException;
  }

  private final Force force;
  private final Map<Path, State> states = new HashMap<>();

  private static final class State {
    final ReentrantLock lock = new ReentrantLock();
    final Condition changed = lock.newCondition();
    long asked;
    long done;
    /** The callers the latest failed force was to cover (those who asked before it began), and why it failed. */
    long failedUpTo;
    IOException failure;
    boolean running;
    int users;
  }

  FolderSync(Force force) {
    this.force = force;
  }

  /** Returns once a force of {@code dir} that began after this call was made has ended. */
  void sync(Path dir) throws IOException {
    State s;
    synchronized (states) {
      s = states.computeIfAbsent(dir, d -> new State());
      s.users++;
    }
    s.lock.lock();
    try {
      long mine = ++s.asked;
      while (s.done < mine) {
        if (mine <= s.failedUpTo) {
          // A force that was to cover this caller failed: its move is not known durable.
          throw new IOException("forcing the folder " + dir + " failed: " + s.failure.getMessage(), s.failure);
        }
        if (s.running) {
          s.changed.awaitUninterruptibly();
          continue;
        }
        s.running = true;
        long upTo = s.asked;
        s.lock.unlock();
        IOException failed = null;
        try {
          force.force(dir);
        } catch (IOException e) {
          failed = e;
          throw e;
        } catch (RuntimeException | Error e) {
          failed = new IOException(e.toString(), e);
          throw e;
        } finally {
          s.lock.lock();
          s.running = false;
          if (failed == null) {
            s.done = Math.max(s.done, upTo);
          } else {
            s.failedUpTo = Math.max(s.failedUpTo, upTo);
            s.failure = failed;
          }
          s.changed.signalAll();
        }
      }
    } finally {
      s.lock.unlock();
      synchronized (states) {
        if (--s.users == 0) {
          states.remove(dir);
        }
      }
    }
  }
}
