package dev.backup.cli;

import java.util.function.LongConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * A progress bar for one transfer (bytes done, percent, rate, time left), shown only on a
 * terminal and only once the transfer has taken about a second; never in a pipe or with
 * --json. Its updates may come from any thread.
 */
final class Progress implements LongConsumer, AutoCloseable {
  private static final long SHOW_AFTER_MS = 1000;

  private final String task;
  private final long total;
  private final boolean enabled;
  private final long started = System.currentTimeMillis();
  private ProgressBar bar;
  private boolean closed;
  private long done;
  private String files = "";

  Progress(String task, long total, boolean enabled) {
    this.task = task;
    this.total = total;
    this.enabled = enabled && Console.interactive();
  }

  /** Adds to the bytes done (several transfers feeding one bar). */
  synchronized void add(long delta) {
    accept(done + delta);
  }

  /** For a folder: how many of its files are done. */
  synchronized void files(int finished, int total) {
    files = total > 1 ? finished + "/" + total + " files" : "";
    if (bar != null) {
      bar.setExtraMessage(files);
    }
  }

  /** Prints a result line; on a terminal the bar is redrawn below it. */
  synchronized void above(String line, java.io.PrintWriter w) {
    if (bar != null) {
      w.print("\r\u001B[2K");
    }
    w.println(line);
    w.flush();
  }

  @Override
  public synchronized void accept(long done) {
    this.done = done;
    if (!enabled || closed) {
      return;
    }
    if (bar == null) {
      if (System.currentTimeMillis() - started < SHOW_AFTER_MS) {
        return;
      }
      bar = new ProgressBarBuilder().setTaskName(task).setInitialMax(total)
          .setUnit("MiB", 1 << 20).showSpeed().setUpdateIntervalMillis(200).clearDisplayOnFinish()
          .setStyle(Console.colour() ? ProgressBarStyle.COLORFUL_UNICODE_BLOCK : ProgressBarStyle.ASCII)
          .build();
      bar.setExtraMessage(files);
    }
    bar.stepTo(done);
  }

  @Override
  public synchronized void close() {
    closed = true;
    if (bar != null) {
      bar.close();
    }
  }
}
