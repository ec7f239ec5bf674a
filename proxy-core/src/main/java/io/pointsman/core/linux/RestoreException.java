package io.pointsman.core.linux;

/** iptables-restore or iptables-save failed. Carries the offending line when the tool named one. */
public class RestoreException extends Exception {
    private static final long serialVersionUID = 1L;
    private final int line;
    private final String lineText;

    public RestoreException(String message, int line, String lineText) {
        super(message);
        this.line = line;
        this.lineText = lineText;
    }

    public RestoreException(String message, Throwable cause) {
        super(message, cause);
        this.line = 0;
        this.lineText = "";
    }

    /** 1-based line of the payload the tool rejected, 0 when unknown. */
    public int line() {
        return line;
    }

    /** The text of that line, "" when unknown. */
    public String lineText() {
        return lineText;
    }
}
