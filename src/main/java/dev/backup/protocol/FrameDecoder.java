package dev.backup.protocol;

import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.DecodeException;
import io.vertx.core.json.JsonObject;

/**
 * A push parser for a connection's bytes: frames, and after a PUT the raw bytes of the
 * file. Feed it every chunk read from the socket; it calls the listener in order. The
 * listener switches it to raw mode (from {@link Listener#onFrame}) with
 * {@link #expectRaw(long)}. Any malformed input makes it call {@link Listener#onError}
 * once and ignore everything after.
 */
public final class FrameDecoder {
  public interface Listener {
    void onFrame(Frame frame);

    /** A slice of raw file bytes. */
    default void onData(Buffer data) {
      onError(new BackupException(ErrorCode.PROTOCOL, "unexpected raw data"));
    }

    /** All raw bytes announced by {@link #expectRaw(long)} have arrived. */
    default void onDataEnd() {
    }

    void onError(BackupException error);
  }

  private final Listener listener;
  private Buffer pending = Buffer.buffer();
  private long rawRemaining = -1;
  private boolean failed;
  private long frames;

  public FrameDecoder(Listener listener) {
    this.listener = listener;
  }

  /** After the current frame, the next {@code n} bytes are raw data. */
  public void expectRaw(long n) {
    if (n < 0) {
      throw new IllegalArgumentException("negative length");
    }
    rawRemaining = n;
  }

  public boolean inRawMode() {
    return rawRemaining >= 0;
  }

  public boolean failed() {
    return failed;
  }

  /** How many whole frames were handed to the listener so far. */
  public long frames() {
    return frames;
  }

  /** Whether part of a frame has arrived and the rest has not (never in raw mode). */
  public boolean partialFrame() {
    return !failed && rawRemaining < 0 && pending.length() > 0;
  }

  /** Bytes received but not yet handed to the listener (a half-sent frame). */
  public int buffered() {
    return pending.length();
  }

  public void feed(Buffer chunk) {
    if (failed) {
      return;
    }
    Buffer buf = pending.length() == 0 ? chunk : pending.appendBuffer(chunk);
    pending = Buffer.buffer();
    int pos = 0;
    int len = buf.length();
    while (!failed && pos < len) {
      if (rawRemaining > 0) {
        int n = (int) Math.min(rawRemaining, len - pos);
        Buffer slice = (pos == 0 && n == len) ? buf : buf.slice(pos, pos + n);
        pos += n;
        rawRemaining -= n;
        listener.onData(slice);
        if (rawRemaining == 0) {
          rawRemaining = -1;
          listener.onDataEnd();
        }
        continue;
      }
      if (len - pos < Frame.HEADER_LENGTH) {
        // Check what we can of the magic now, so garbage is refused at once.
        if (!magicPrefixOk(buf, pos, len)) {
          fail("not a backup protocol frame (bad magic)");
          return;
        }
        break;
      }
      int magic = buf.getInt(pos);
      if (magic != Frame.MAGIC) {
        fail("not a backup protocol frame (bad magic)");
        return;
      }
      byte version = buf.getByte(pos + 4);
      if (version != Frame.VERSION) {
        fail("unsupported protocol version " + version);
        return;
      }
      Op op = Op.of(buf.getByte(pos + 5));
      if (op == null) {
        fail("unknown op code " + buf.getByte(pos + 5));
        return;
      }
      long requestId = buf.getLong(pos + 8);
      int bodyLength = buf.getInt(pos + 16);
      if (bodyLength < 0 || bodyLength > Frame.MAX_BODY) {
        fail("frame body length out of range: " + bodyLength);
        return;
      }
      if (len - pos < Frame.HEADER_LENGTH + bodyLength) {
        break;
      }
      JsonObject body;
      try {
        body = bodyLength == 0 ? new JsonObject()
            : new JsonObject(buf.slice(pos + Frame.HEADER_LENGTH, pos + Frame.HEADER_LENGTH + bodyLength));
      } catch (DecodeException | ClassCastException e) {
        fail("frame body is not a JSON object");
        return;
      }
      pos += Frame.HEADER_LENGTH + bodyLength;
      frames++;
      listener.onFrame(new Frame(op, requestId, body));
      if (rawRemaining == 0 && !failed) {
        rawRemaining = -1;
        listener.onDataEnd();
      }
    }
    if (!failed && pos < len) {
      pending = buf.getBuffer(pos, len);
    }
  }

  private static boolean magicPrefixOk(Buffer buf, int pos, int len) {
    int n = Math.min(4, len - pos);
    for (int i = 0; i < n; i++) {
      int expected = (Frame.MAGIC >>> (24 - 8 * i)) & 0xff;
      if ((buf.getByte(pos + i) & 0xff) != expected) {
        return false;
      }
    }
    return true;
  }

  private void fail(String message) {
    failed = true;
    pending = Buffer.buffer();
    listener.onError(new BackupException(ErrorCode.PROTOCOL, message));
  }
}
