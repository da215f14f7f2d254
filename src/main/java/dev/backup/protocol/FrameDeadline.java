package dev.backup.protocol;

import io.vertx.core.Vertx;
import java.util.function.Consumer;

/**
 * Drops a peer that starts a frame and does not finish it in time. An idle timeout alone
 * does not: one byte every little while keeps a connection from ever being idle. Call
 * {@link #check()} after each chunk fed to the decoder; when a frame has been under way
 * for the whole timeout, {@code expired} is called (once) with the TIMEOUT error to send
 * the peer before closing.
 */
public final class FrameDeadline {
  private final Vertx vertx;
  private final FrameDecoder decoder;
  private final long timeoutMs;
  private final Consumer<BackupException> expired;
  private long timer = -1;
  private long framesAtStart;

  public FrameDeadline(Vertx vertx, FrameDecoder decoder, long timeoutMs, Consumer<BackupException> expired) {
    this.vertx = vertx;
    this.decoder = decoder;
    this.timeoutMs = timeoutMs;
    this.expired = expired;
  }

  public void check() {
    if (!decoder.partialFrame()) {
      cancel();
      return;
    }
    if (timer != -1 && decoder.frames() == framesAtStart) {
      return; // the same frame is still under way: its clock keeps running
    }
    cancel();
    long started = decoder.frames();
    framesAtStart = started;
    timer = vertx.setTimer(timeoutMs, t -> {
      timer = -1;
      if (decoder.partialFrame() && decoder.frames() == started) {
        expired.accept(new BackupException(ErrorCode.TIMEOUT, "frame not completed within "
            + (timeoutMs / 1000) + " s; closing the connection"));
      }
    });
  }

  public void cancel() {
    if (timer != -1) {
      vertx.cancelTimer(timer);
      timer = -1;
    }
  }
}
