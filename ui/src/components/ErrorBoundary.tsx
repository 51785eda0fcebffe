// A view that throws shows what went wrong instead of a blank page; navigating resets it.
import { Component, type ReactNode } from "react";

export class ErrorBoundary extends Component<{ resetKey: string; children: ReactNode }, { error: Error | null }> {
  state: { error: Error | null } = { error: null };

  static getDerivedStateFromError(error: Error) {
    return { error };
  }

  componentDidUpdate(prev: { resetKey: string }) {
    if (prev.resetKey !== this.props.resetKey && this.state.error) this.setState({ error: null });
  }

  render() {
    if (this.state.error) {
      return (
        <div className="state error" role="alert">
          <strong>This view failed:</strong> {this.state.error.message}
        </div>
      );
    }
    return this.props.children;
  }
}
