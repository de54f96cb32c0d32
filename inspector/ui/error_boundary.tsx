/**
 * A view that throws while rendering shows a short error in its place,
 * instead of taking the page down with it: Preact unmounts the whole tree
 * on an error nothing catches, so the next exchange clicked would show
 * nothing until a reload. Recorded data is attacker-controlled, and a view
 * that fails on some body must cost that view only.
 *
 * Give it a `key` that changes with what it shows (the exchange, the body
 * mode): a new key is a new boundary, which tries again.
 *
 * @module
 */

import { Component, type ComponentChildren } from "preact";

/** Props of {@linkcode ErrorBoundary}. */
export interface ErrorBoundaryProps {
  /** What it shows, for the message: "the Parts view of this body". */
  what: string;
  children?: ComponentChildren;
}

interface ErrorBoundaryState {
  error: Error | null;
}

/** Shows its children, or a short error in their place when they throw while rendering. */
export class ErrorBoundary extends Component<ErrorBoundaryProps, ErrorBoundaryState> {
  override state: ErrorBoundaryState = { error: null };

  static override getDerivedStateFromError(error: unknown): ErrorBoundaryState {
    return { error: error instanceof Error ? error : new Error(String(error)) };
  }

  override componentDidCatch(error: unknown): void {
    // Kept in the console for whoever debugs the page; the page itself goes on.
    console.warn(`Could not show ${this.props.what}:`, error);
  }

  override render() {
    const { error } = this.state;
    if (error === null) return this.props.children;
    return (
      <p class="note warn" data-testid="view-error" role="alert">
        Could not show {this.props.what}: {error.name}:{" "}
        {error.message.slice(0, 300)}. The rest of the page still works.
      </p>
    );
  }
}
