pub use lettre;
